import { expect } from 'chai';

describe('package', () => {
  it("the root export ('distribution') exposes the serializer", async () => {
    // Resolved through package.json "exports" (a package may import itself by name).
    const root = (await import('distribution' as string)) as Record<string, unknown>;
    for (const name of ['serialize', 'deserialize', 'encode', 'decode', 'registerClass']) expect(typeof root[name], name).to.equal('function');
    const { serialize, deserialize } = root as { serialize(v: unknown): string; deserialize(s: string): unknown };
    expect(deserialize(serialize({ a: [1n, new Date(0)] }))).to.deep.equal({ a: [1n, new Date(0)] });
  });
});
