import { expect } from 'chai';
import { assert, AssertionError } from '../../src/lib/assert.js';

describe('lib/assert', () => {
  it('throws a coded AssertionError with the message, built only when the assertion fails', () => {
    let built = 0;
    const message = (): string => `built ${++built}`;
    assert(true, message);
    expect(built, 'a lazy message is not built when the assertion holds').to.equal(0);
    expect(() => assert(false, message)).to.throw(AssertionError, 'built 1').with.property('code', 'E_ASSERT');
    expect(() => assert(0, 'plain')).to.throw(AssertionError, 'plain');
    expect(() => assert(null)).to.throw(AssertionError, 'assertion failed');
  });
});
