import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subjectAltName } from './certificates.js';

describe('the generated server certificate names', () => {
  it('the listen host and loopback', () => {
    assert.equal(subjectAltName('10.0.0.2:5000', ['192.0.2.2']), 'IP:10.0.0.2,IP:127.0.0.1,DNS:localhost');
    assert.equal(subjectAltName('registry.lan:5000', []), 'DNS:registry.lan,IP:127.0.0.1,DNS:localhost');
  });

  it("the machine's addresses for a wildcard listen", () => {
    assert.equal(subjectAltName('0.0.0.0:5000', ['192.0.2.2', '10.88.0.1']), 'IP:192.0.2.2,IP:10.88.0.1,IP:127.0.0.1,DNS:localhost');
  });
});
