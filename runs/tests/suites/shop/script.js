// A multi-file suite configured from the environment, as teams run it with
// `k6 run -e BASE_URL=… -e VUS=… -e ITERATIONS=… -e DURATION=… script.js`.
// Docs: https://grafana.com/docs/k6/latest/ (a link in a comment is never the target)
import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';
import { randomItem, tagged } from '{{MODULE_HOST}}/k6-utils/1.4.0/index.js';
import { productUrl } from './lib/urls.js';

const products = new SharedArray('products', () => JSON.parse(open('./data/products.json')));
const BASE_URL = __ENV.BASE_URL;

export const options = {
  vus: Number(__ENV.VUS || 1),
  iterations: Number(__ENV.ITERATIONS || 5),
  duration: __ENV.DURATION || '30s',
  thresholds: {
    http_req_failed: ['rate<0.5'],
    'http_req_duration{name:product}': ['p(95)<2000'],
    checks: [`rate>${__ENV.MIN_CHECK_RATE || 0.9}`],
  },
};

export default function () {
  const product = randomItem(products);
  const res = http.get(productUrl(BASE_URL, product), tagged('product', { Authorization: `Bearer ${__ENV.API_TOKEN}` }));
  check(res, { 'status is 200': (r) => r.status === 200 });
}
