// MQT Bench 'ae', circuit_size=2, level indep (2 qubits, 6 operations); decomposed 1 level(s) to be written
OPENQASM 2.0;
include "qelib1.inc";
gate r(param0,param1) q0 { u(param0,-pi/2 + param1,pi/2 - param1) q0; }
qreg eval[1];
qreg q[1];
creg meas[2];
u(pi/2,0,pi) eval[0];
u(0,0,-pi/2) eval[0];
r(0.9272952180016122,pi/2) q[0];
u(pi/2,0,pi/4) q[0];
cx eval[0],q[0];
u(pi,-pi,-pi/2) eval[0];
u(1.7721542475852277,2.1862760354652835,-2.1862760354652835) q[0];
cx eval[0],q[0];
u(pi,-pi/2,-pi/2) eval[0];
h eval[0];
u(2.172060543474025,1.0303768265243125,-2.385623243165886) q[0];
barrier eval[0],q[0];
measure eval[0] -> meas[0];
measure q[0] -> meas[1];