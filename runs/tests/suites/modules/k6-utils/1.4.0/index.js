// A stand-in for jslib's k6-utils, served from loopback by the tests: it imports a sibling module relatively.
import { pick } from './random.js';

export function randomItem(items) {
  return items[pick(items.length)];
}

export function tagged(name, headers) {
  return { tags: { name }, headers };
}
