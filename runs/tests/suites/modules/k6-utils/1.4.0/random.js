export function pick(length) {
  return Math.floor(Math.random() * length);
}
