// Compiled against the types openapi-typescript generates (api.d.ts beside this file in the
// check's work directory): a client written against the document must see real fields,
// and a field that does not exist must not compile.
import type { components, operations, paths } from "./api";

type Json<R> = R extends { content: { "application/json": infer B } } ? B : never;
type ProblemJson<R> = R extends { content: { "application/problem+json": infer B } } ? B : never;
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const holds = <T extends true>(_: T[]): void => {};

type LoginAnswer = Json<paths["/api/auth/login"]["post"]["responses"][200]>;
type Session = components["schemas"]["Session"];
type Problem = components["schemas"]["Problem"];

holds([
  true as Exact<LoginAnswer, Session>,
  true as Exact<Session["token"], string>,
  true as Exact<Session["user"]["displayName"], string>,
  true as Exact<Json<operations["followUser"]["responses"][200]>["following"], boolean>,
  true as Exact<ProblemJson<operations["followUser"]["responses"][404]>, Problem>,
  true as Exact<Problem["status"], number>,
]);

// @ts-expect-error: a field the answer does not have
export const missing: Session["nope"] = "x";
