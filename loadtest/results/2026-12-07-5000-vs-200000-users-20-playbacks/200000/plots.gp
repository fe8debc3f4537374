set terminal pngcairo size 900,540
set grid
set key outside
set output 'time_by_workers.png'
set title 'Fleet time by workers'
set key below
set xlabel 'workers'
set ylabel 'seconds'
set xtics 1
set xrange [0.8:2.2]
set yrange [0:*]
plot 'fleet-stats.dat' using 1:2 with linespoints lc 1 pt 7 lw 2 title 'statistics', \
  627.887 * 1 / x with lines lc 1 dt 2 title 'statistics, ideal t(1)/N', \
  90.898 with lines lc 1 dt 3 title 'statistics floor', \
  396.968 with lines lc 1 dt 4 title 'statistics baseline (the original step)'
set autoscale x
set output 'throughput.png'
set title 'Documents per second by run'
set style data histograms
set style fill solid 0.6
set boxwidth 0.8
set xtics rotate by -35
set xlabel ''
set ylabel 'documents/s'
set yrange [0:*]
unset key
plot 'runs.dat' using 3:xtic(1)
set output 'rss.png'
set title 'Peak RSS by run (largest process)'
set ylabel 'MB'
set yrange [0:*]
plot 'runs.dat' using 4:xtic(1)
