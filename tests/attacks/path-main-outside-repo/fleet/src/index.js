import { DurableObject, WorkflowEntrypoint } from "cloudflare:workers";

export class Cart extends DurableObject {}
export class Cart2 extends DurableObject {}
export class Checkout extends WorkflowEntrypoint {
  async run() {}
}
export default { fetch() { return new Response("ok"); } };
