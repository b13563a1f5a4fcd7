// Three scenarios with different executors and their own thresholds, custom metrics of every kind, nested groups.
import http from 'k6/http';
import { check, group } from 'k6';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';

const cartItems = new Counter('cart_items');
const basketValue = new Gauge('basket_value');
const searchHits = new Rate('search_hits');
const checkoutTime = new Trend('checkout_time', true);

export const options = {
  scenarios: {
    browse: { executor: 'shared-iterations', vus: 2, iterations: 12, exec: 'browse' },
    search: { executor: 'per-vu-iterations', vus: 2, iterations: 3, exec: 'search' },
    checkout: { executor: 'constant-vus', vus: 1, duration: '2s', exec: 'checkout' },
  },
  thresholds: {
    'http_reqs{scenario:browse}': ['count==12'],
    'http_req_duration{scenario:search}': ['p(95)<3000'],
    'iterations{scenario:search}': ['count==6'],
    cart_items: ['count>=12'],
    search_hits: ['rate>0.99'],
    checkout_time: ['p(95)<0.001'], // crossed on purpose: one threshold fails
  },
};

const BASE = __ENV.BASE_URL;

export function browse() {
  group('catalogue', () => {
    group('list', () => {
      check(http.get(`${BASE}/catalogue`), { 'status is 200': (r) => r.status === 200 });
    });
    cartItems.add(1);
  });
}

export function search() {
  group('search', () => {
    const res = http.get(`${BASE}/search?q=tea`);
    searchHits.add(res.status === 200);
    check(res, { 'status is 200': (r) => r.status === 200 });
  });
}

export function checkout() {
  group('checkout', () => {
    const started = Date.now();
    http.post(`${BASE}/checkout`, JSON.stringify({ items: 2 }), { headers: { 'Content-Type': 'application/json' } });
    checkoutTime.add(Date.now() - started + 1);
    basketValue.add(42);
  });
}
