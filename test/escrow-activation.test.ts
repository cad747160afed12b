import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agentEscrowAbi } from "../src/abi/index.ts";
import { encodeTerms } from "../src/eip712/index.ts";
import { type EscrowFixture, escrowFixture } from "./support/escrow-fixture.ts";
import { expectRevert } from "./support/revert.ts";

let f: EscrowFixture;
beforeAll(async () => {
  f = await escrowFixture("base");
  await f.token().mint(f.accounts.buyer.address, 10_000_000_000n);
});
afterAll(async () => f?.close());

describe("activate", () => {
  it("pulls the deposit with a TransferWithAuthorization and marks the agreement active", async () => {
    const terms = await f.terms();
    const before = await f.token().balanceOf(f.escrow);
    const id = await f.activate(terms);
    expect(await f.token().balanceOf(f.escrow)).toBe(before + terms.deposit);
    const view = await f.publicClient.readContract({
      address: f.escrow,
      abi: agentEscrowAbi,
      functionName: "getAgreement",
      args: [encodeTerms(terms)],
    });
    expect(view.status).toBe(1);
    expect(view.deposit).toBe(terms.deposit);
    expect(id).toMatch(/^0x[0-9a-f]{64}$/);
  });

  it("refuses a second activation", async () => {
    const terms = await f.terms();
    const id = await f.activate(terms);
    const auth = await f.fundingAuth(terms);
    await expectRevert(
      f.write("relayer", {
        address: f.escrow,
        abi: agentEscrowAbi,
        functionName: "activate",
        args: [encodeTerms(terms), auth],
      }),
      "AgreementExists",
      [id, 1],
    );
  });
});
