// MQT Bench 'bmw_quark_copula', circuit_size=2, level indep (2 qubits, 8 operations)
OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg meas[2];
h q[0];
cx q[0],q[1];
barrier q[0],q[1];
u3(1.304903297657757,-2.648708903009474,1.2943469151946534) q[0];
u3(3.061138875731499,2.4248043857342108,-0.6328290844213722) q[1];
barrier q[0],q[1];
u3(0.9943283734288226,-2.038837099817024,2.758547559076651) q[0];
u3(1.0974657162507973,-2.587319498400131,-1.8414382290182099) q[1];
barrier q[0],q[1];
barrier q[0],q[1];
measure q[0] -> meas[0];
measure q[1] -> meas[1];