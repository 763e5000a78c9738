import { describe, expect, it } from 'vitest';
import { hostAllowed, isLoopback } from '../../../src/hub/http.js';

describe('Host checks for a loopback hub (DNS rebinding)', () => {
  it('knows loopback names', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', 'app.localhost'])
      expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '10.0.0.1', 'example.com', 'localhost.example.com', '::'])
      expect(isLoopback(h)).toBe(false);
  });
  it('a loopback bind answers loopback Host names only, with or without a port', () => {
    expect(hostAllowed('127.0.0.1', '127.0.0.1:9000')).toBe(true);
    expect(hostAllowed('127.0.0.1', 'localhost')).toBe(true);
    expect(hostAllowed('127.0.0.1', '[::1]:9000')).toBe(true);
    expect(hostAllowed('127.0.0.1', 'evil.example:9000')).toBe(false);
    expect(hostAllowed('127.0.0.1', undefined)).toBe(false);
  });
  it('any other bind accepts any Host', () => {
    expect(hostAllowed('0.0.0.0', 'evil.example')).toBe(true);
  });
});
