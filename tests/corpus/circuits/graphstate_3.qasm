// MQT Bench 'graphstate', circuit_size=3, level indep (3 qubits, 9 operations)
OPENQASM 2.0;
include "qelib1.inc";
qreg q[3];
creg meas[3];
h q[0];
h q[1];
cz q[0],q[1];
h q[2];
cz q[0],q[2];
cz q[1],q[2];
barrier q[0],q[1],q[2];
measure q[0] -> meas[0];
measure q[1] -> meas[1];
measure q[2] -> meas[2];