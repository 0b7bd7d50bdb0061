// MQT Bench 'bv', circuit_size=6, level indep (6 qubits, 12 operations)
OPENQASM 2.0;
include "qelib1.inc";
qreg q[6];
creg c[5];
x q[0];
h q[2];
cz q[2],q[0];
h q[2];
h q[4];
cz q[4],q[0];
h q[4];
measure q[1] -> c[0];
measure q[2] -> c[1];
measure q[3] -> c[2];
measure q[4] -> c[3];
measure q[5] -> c[4];