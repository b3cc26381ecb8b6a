import { expect } from 'chai';
import { authSkewMsMax, connectionToken, TokenVerifier } from '../../src/runtime/index.js';

describe('runtime connection tokens (pure)', () => {
  const nowMs = 1_700_000_000_000;

  it('accepts a fresh token once, for the right pair and secret only', () => {
    const verifier = new TokenVerifier('s3cret', 'n2');
    const token = connectionToken('s3cret', 'n1', 'n2', nowMs);
    expect(verifier.verify('n3', token, nowMs)).to.equal('bad-mac');
    expect(new TokenVerifier('other', 'n2').verify('n1', token, nowMs)).to.equal('bad-mac');
    expect(new TokenVerifier('s3cret', 'n9').verify('n1', token, nowMs)).to.equal('bad-mac');
    expect(verifier.verify('n1', token, nowMs)).to.equal('ok');
    expect(verifier.verify('n1', token, nowMs + 1)).to.equal('replayed');
    expect(verifier.verify('n1', undefined, nowMs)).to.equal('malformed');
    expect(verifier.verify('n1', `${token}x`, nowMs)).to.equal('malformed');
  });

  it('refuses tokens outside the clock window, and forgets nonces once they would be stale anyway', () => {
    const verifier = new TokenVerifier('s3cret', 'n2');
    expect(verifier.verify('n1', connectionToken('s3cret', 'n1', 'n2', nowMs - authSkewMsMax - 1), nowMs)).to.equal('stale');
    expect(verifier.verify('n1', connectionToken('s3cret', 'n1', 'n2', nowMs + authSkewMsMax + 1), nowMs)).to.equal('stale');
    const token = connectionToken('s3cret', 'n1', 'n2', nowMs);
    expect(verifier.verify('n1', token, nowMs)).to.equal('ok');
    // Much later the nonce is forgotten, and the token is refused as stale instead.
    expect(verifier.verify('n1', token, nowMs + 3 * authSkewMsMax)).to.equal('stale');
  });
});
