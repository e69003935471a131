// Runs the page's SRP client (dashboard/src/srp.js) on cases given as JSON on stdin and prints
// each one's PASSWORD_CLAIM_SIGNATURE, SRP_A and timestamp, for tests/browser/test_dashboard_srp.py
// to compare with the emulator's server side and the Python test client.
// Input: [{a, poolId, userId, password, salt, srpB, secretBlock, epochMs}, ...] (a: hex).
import { readFileSync } from "node:fs";
import { cognitoTimestamp, modPow, N, passwordSignature } from "../../dashboard/src/srp.js";

const cases = JSON.parse(readFileSync(0, "utf8"));
const out = [];
for (const c of cases) {
  const a = BigInt("0x" + c.a);
  const A = modPow(2n, a, N);
  const timestamp = cognitoTimestamp(new Date(c.epochMs));
  const signature = await passwordSignature({
    poolId: c.poolId, userId: c.userId, password: c.password, salt: c.salt, srpB: c.srpB,
    secretBlock: c.secretBlock, timestamp, ephemeral: { a, A },
  });
  out.push({ srpA: A.toString(16), timestamp, signature });
}
process.stdout.write(JSON.stringify(out));
