import { expect } from 'chai';
import fc from 'fast-check';
import { decodeBatch, FrameEncoder, HeaderCache, type DecodedHeader } from '../../src/runtime/frame.js';

const limits = { headerBytesMax: 1024, payloadBytesMax: 4096 };

function decodeAll(data: Buffer): { frames: [DecodedHeader, Uint8Array][]; code: string | undefined } {
  const frames: [DecodedHeader, Uint8Array][] = [];
  const error = decodeBatch(data, limits, new HeaderCache(), (header, payload) => {
    frames.push([header, Uint8Array.from(payload)]);
    return undefined;
  });
  return { frames, code: error?.code };
}

describe('runtime frame codec (pure)', () => {
  it('round-trips any batch of frames', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 40 }), fc.uint8Array({ maxLength: 300 })), { maxLength: 30 }), (frames) => {
        const encoder = new FrameEncoder('n1', limits.headerBytesMax);
        const data = Buffer.concat(frames.map(([channel, payload]) => encoder.encode(channel, payload)));
        const decoded = decodeAll(data);
        expect(decoded.code).to.equal(undefined);
        expect(decoded.frames.map(([h, p]) => [h.from, h.channel, [...p]])).to.deep.equal(frames.map(([c, p]) => ['n1', c, [...p]]));
      }),
    );
  });

  it('never throws on arbitrary bytes: either frames or E_NET_BAD_FRAME', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const result = decodeAll(Buffer.from(bytes));
        expect([undefined, 'E_NET_BAD_FRAME']).to.include(result.code);
      }),
      { numRuns: 2_000 },
    );
  });

  it('never throws on corrupted valid batches', () => {
    const encoder = new FrameEncoder('n1', limits.headerBytesMax);
    const valid = Buffer.concat([encoder.encode('a', Buffer.from('hello')), encoder.encode('bb', Buffer.from('world'))]);
    fc.assert(
      fc.property(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 }), (index, byte) => {
        const corrupt = Buffer.from(valid);
        corrupt[index] = byte;
        const result = decodeAll(corrupt);
        expect([undefined, 'E_NET_BAD_FRAME']).to.include(result.code);
      }),
    );
  });

  it('refuses a channel whose header exceeds headerBytesMax', () => {
    const encoder = new FrameEncoder('n1', 64);
    expect(() => encoder.encode('c'.repeat(200), new Uint8Array(0))).to.throw().with.property('code', 'E_NET_BAD_CHANNEL');
  });
});
