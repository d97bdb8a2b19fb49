// A wasi:http/proxy server in JavaScript for wharf's tests (componentize-js, StarlingMonkey's
// fetch-event API). Routes: `/` answers "hello from javascript", `/echo` sends the request body
// back. The test harness builds it against tests/guests/http/wit labelled 0.2.10 (see support.rs).
addEventListener("fetch", (event) => event.respondWith(handle(event.request)));

async function handle(request) {
  const path = new URL(request.url).pathname;
  if (path === "/echo") {
    return new Response(await request.arrayBuffer(), { headers: { "content-type": "text/plain" } });
  }
  if (path === "/") {
    return new Response("hello from javascript\n", { headers: { "content-type": "text/plain" } });
  }
  return new Response("not found\n", { status: 404 });
}
