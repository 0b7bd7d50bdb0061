// MQT Bench 'qaoa', circuit_size=2, level indep (2 qubits, 10 operations); measure_all() added here
OPENQASM 2.0;
include "qelib1.inc";
qreg q[2];
creg meas[2];
h q[0];
h q[1];
rzz(10.410545461930019) q[0],q[1];
rx(12.013471791158686) q[0];
rx(12.013471791158686) q[1];
rzz(1.8759344847470487) q[0],q[1];
rx(2.609806595315514) q[0];
rx(2.609806595315514) q[1];
barrier q[0],q[1];
measure q[0] -> meas[0];
measure q[1] -> meas[1];