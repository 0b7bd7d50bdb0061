// Measure q[0] of |+>, flip q[2] when it read 1, reset q[0] and flip it.
OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg c[1];
creg out[3];
h q[0];
measure q[0] -> c[0];
if(c==1) x q[2];
reset q[0];
x q[0];
ry(0.6) q[1];
measure q -> out;
