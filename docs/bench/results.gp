# gnuplot docs/bench/results.gp (from docs/bench/): results.png from results.dat
set terminal pngcairo size 720,420
set output 'results.png'
set title "Ticket spinlock in 2-vCPU VMs sharing 2 CPUs (TCG test bed, one boot)"
set xlabel "VMs on the 2 CPUs (overcommit N:1)"
set ylabel "acquisitions/s, sum over the VMs"
set xtics 1
set xrange [0.7:3.3]
set yrange [0:*]
set key bottom left
set grid ytics
plot 'results.dat' using ($1-0.08):2:3:4 with yerrorlines title 'gang off', \
     '' using 1:5:6:7 with yerrorlines title 'gang off, halt after spin (pv)', \
     '' using ($1+0.08):8:9:10 with yerrorlines title 'strict gang'
