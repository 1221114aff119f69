export default { fetch() { return new Response("not what was reviewed") } }
