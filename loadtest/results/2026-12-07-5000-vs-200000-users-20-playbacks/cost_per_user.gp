set terminal pngcairo size 900,600
set grid
set key below
set datafile missing '-'
set output 'cost_per_user.png'
set title 'Fleet cost per user by users'
set xlabel 'users'
set logscale x
set xtics auto
set ylabel 'ms per user'
set yrange [0:*]
set y2label 'database requests per user'
set y2range [0:*]
set ytics nomirror
set y2tics
plot 'cost-per-user.dat' using ((strcol(1) eq 'stats' && $2 == 1) ? $3 : 1/0):4 smooth unique with linespoints lw 2 pt 7 title 'stats, 1 worker: ms/user', \
  'cost-per-user.dat' using ((strcol(1) eq 'stats' && $2 == 1) ? $3 : 1/0):5 smooth unique axes x1y2 with linespoints dt 2 pt 6 title 'stats, 1 worker: requests/user', \
  'cost-per-user.dat' using ((strcol(1) eq 'stats' && $2 == 2) ? $3 : 1/0):4 smooth unique with linespoints lw 2 pt 7 title 'stats, 2 workers: ms/user', \
  'cost-per-user.dat' using ((strcol(1) eq 'stats' && $2 == 2) ? $3 : 1/0):5 smooth unique axes x1y2 with linespoints dt 2 pt 6 title 'stats, 2 workers: requests/user'
