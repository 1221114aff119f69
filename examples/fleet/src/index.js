// The Worker code shared by every shop.
export default {
  async fetch(request, env) {
    const row = await env.DB.prepare("SELECT 1 AS ok").first();
    return Response.json({ shop: env.SHOP_SLUG, ok: row?.ok === 1 });
  },
};
