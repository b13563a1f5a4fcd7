import { check } from 'k6';
import type { RefinedResponse, ResponseType } from 'k6/http';

export type Expectation = { status: number };

export function statusIs(res: RefinedResponse<ResponseType | undefined>, expected: Expectation): boolean {
  return check(res, { [`status is ${expected.status}`]: (r) => r.status === expected.status });
}
