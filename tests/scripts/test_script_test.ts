import assert from "node:assert/strict";
import { failureTail } from "../../scripts/test.ts";

// `deno task test` repeats what a failed step said of its failures after the summary, so a CI
// log that keeps only its tail still names the failed test.
Deno.test("the test script repeats a failed deno test's ERRORS and FAILURES sections", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/a_test.ts`,
      'Deno.test("passes", () => {});\n' +
        'Deno.test("fails here", () => { throw new Error("boom at 42"); });\n',
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--no-check", `${dir}/a_test.ts`],
      env: { NO_COLOR: "" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.success, false);
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    const tail = failureTail(`${"x\n".repeat(5000)}${text}`);
    assert.match(tail, /^ ERRORS \n/);
    assert.match(tail, /fails here => .*a_test\.ts:2/);
    assert.match(tail, /boom at 42/);
    assert.match(tail, / FAILURES \n/);
    assert.ok(!tail.includes("\x1b["), "colour codes left in");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the repeated failures keep the first error and the FAILURES list within the limit", () => {
  const text = `${"x".repeat(50)}\n ERRORS \n${"e".repeat(100)}\n FAILURES \n\nfoo => a:1\n`;
  const tail = failureTail(text, 60);
  assert.ok(tail.length <= 60 + 8, `${tail.length} characters`);
  assert.match(tail, /^ ERRORS \neee/);
  assert.match(tail, /\[\.\.\.\]\n FAILURES \n\nfoo => a:1\n$/);
  // No ERRORS section (a step that is not deno test): its last characters.
  assert.equal(failureTail("a".repeat(100) + "end", 10), "aaaaaaaend");
});
