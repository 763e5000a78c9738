export * from '../../src/chaos/fault-proxy.js';
