// Measure q0 of a Bell pair halfway, then keep using both qubits.
OPENQASM 3.0;
include "stdgates.inc";
bit[3] c;
qubit[2] q;
h q[0];
cx q[0], q[1];
c[0] = measure q[0];
h q[0];
cx q[0], q[1];
ry(0.4) q[1];
c[1] = measure q[0];
c[2] = measure q[1];
