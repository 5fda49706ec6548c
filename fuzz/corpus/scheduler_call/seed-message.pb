

f1
R

a
ehi