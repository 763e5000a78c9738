/**
 * A JSON payload whose encoded linkwatch data frame
 * (`{"v":1,"t":"data","seq":N,"p":…}`) is close to `bytes`; every baseline
 * sends the same object, so the bytes on the wire are comparable.
 */
export function payloadOf(bytes) {
  const envelope = 45;
  return { pad: 'x'.repeat(Math.max(0, bytes - envelope)) };
}
