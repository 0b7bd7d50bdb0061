// Terminal measurements into two classical registers (a static circuit:
OPENQASM 3.0;
include "stdgates.inc";
bit[2] a;
bit[3] b;
qubit[4] q;
h q[0];
cx q[0], q[1];
ry(0.9) q[2];
cx q[2], q[3];
x q[3];
a[0] = measure q[3];
a[1] = measure q[0];
b[0] = measure q[1];
b[2] = measure q[2];
