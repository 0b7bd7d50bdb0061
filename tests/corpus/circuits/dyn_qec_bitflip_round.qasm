// One syndrome round of the 3-qubit bit-flip code, with ancilla reset.
OPENQASM 3.0;
include "stdgates.inc";
bit[2] s_0;
bit[1] out;
bit[2] chk;
qubit[3] d;
qubit[2] anc;
ry(0.7) d[0];
cx d[0], d[1];
cx d[0], d[2];
rx(0.5) d[1];
cx d[0], anc[0];
cx d[1], anc[0];
cx d[1], anc[1];
cx d[2], anc[1];
s_0[0] = measure anc[0];
s_0[1] = measure anc[1];
reset anc[0];
reset anc[1];
if (s_0 == 1) {
  x d[0];
}
if (s_0 == 3) {
  x d[1];
}
if (s_0 == 2) {
  x d[2];
}
cx d[0], d[2];
cx d[0], d[1];
out[0] = measure d[0];
chk[0] = measure anc[0];
chk[1] = measure anc[1];
