// MQT Bench 'qpeexact', circuit_size=4, level indep (4 qubits, 12 operations)
OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
qreg psi[1];
creg c[3];
h q[0];
h q[1];
cp(-pi/2) q[1],q[2];
h q[1];
x psi[0];
cp(pi) psi[0],q[0];
cp(-pi/4) q[0],q[2];
cp(-pi/2) q[0],q[1];
h q[0];
barrier q[2],q[1],q[0],psi[0];
measure q[2] -> c[0];
measure q[1] -> c[1];
measure q[0] -> c[2];