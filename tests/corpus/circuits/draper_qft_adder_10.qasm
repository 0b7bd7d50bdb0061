// MQT Bench 'draper_qft_adder', circuit_size=10, level indep (10 qubits, 27 operations)
OPENQASM 2.0;
include "qelib1.inc";
gate circuit_572 q0,q1,q2,q3,q4 { h q4; cp(pi/2) q4,q3; cp(pi/4) q4,q2; cp(pi/8) q4,q1; cp(pi/16) q4,q0; h q3; cp(pi/2) q3,q2; cp(pi/4) q3,q1; cp(pi/8) q3,q0; h q2; cp(pi/2) q2,q1; cp(pi/4) q2,q0; h q1; cp(pi/2) q1,q0; h q0; }
gate circuit_572_dg q0,q1,q2,q3,q4 { h q0; cp(-pi/2) q1,q0; h q1; cp(-pi/4) q2,q0; cp(-pi/2) q2,q1; h q2; cp(-pi/8) q3,q0; cp(-pi/4) q3,q1; cp(-pi/2) q3,q2; h q3; cp(-pi/16) q4,q0; cp(-pi/8) q4,q1; cp(-pi/4) q4,q2; cp(-pi/2) q4,q3; h q4; }
qreg a[5];
qreg b[5];
creg meas[10];
circuit_572 b[0],b[1],b[2],b[3],b[4];
cp(pi) a[0],b[0];
cp(pi/2) a[0],b[1];
cp(pi/4) a[0],b[2];
cp(pi/8) a[0],b[3];
cp(pi/16) a[0],b[4];
cp(pi) a[1],b[1];
cp(pi/2) a[1],b[2];
cp(pi/4) a[1],b[3];
cp(pi/8) a[1],b[4];
cp(pi) a[2],b[2];
cp(pi/2) a[2],b[3];
cp(pi/4) a[2],b[4];
cp(pi) a[3],b[3];
cp(pi/2) a[3],b[4];
cp(pi) a[4],b[4];
circuit_572_dg b[0],b[1],b[2],b[3],b[4];
barrier a[0],a[1],a[2],a[3],a[4],b[0],b[1],b[2],b[3],b[4];
measure a[0] -> meas[0];
measure a[1] -> meas[1];
measure a[2] -> meas[2];
measure a[3] -> meas[3];
measure a[4] -> meas[4];
measure b[0] -> meas[5];
measure b[1] -> meas[6];
measure b[2] -> meas[7];
measure b[3] -> meas[8];
measure b[4] -> meas[9];