/**
 * `linkwatch/chaos`: the fault-injecting TCP proxy, a test and game-day tool
 * kept out of the main entry so the core stays the core. Put it between a
 * worker and its hub to black-hole, throttle, delay or cut the link.
 */
export { type Direction, type FaultProxy, type FaultProxyOptions, startFaultProxy } from './fault-proxy.js';
