export function productUrl(base, product) {
  return `${base}/products/${encodeURIComponent(product.sku)}`;
}
