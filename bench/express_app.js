// The Express row of bench/http_bench.py: express 5 + express-session 1.19 + connect-redis 9
// on the node-redis client, the same counter route as the Python apps (resave: false,
// saveUninitialized: false, a one-day cookie). Run with cwd set to the npm folder the
// benchmark installed; BENCH_REDIS_URL and BENCH_PORT come from the environment.
const express = require("express");
const session = require("express-session");
const { RedisStore } = require("connect-redis");
const { createClient } = require("redis");

async function main() {
  const client = createClient({ url: process.env.BENCH_REDIS_URL });
  await client.connect();
  const app = express();
  app.use(
    session({
      store: new RedisStore({ client, prefix: "bench-ex:" }),
      secret: "keyboard cat",
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 24 * 3600 * 1000 },
    }),
  );
  app.get("/", (req, res) => {
    const n = (req.session.n || 0) + 1;
    req.session.n = n;
    res.json({ n });
  });
  app.listen(Number(process.env.BENCH_PORT), "127.0.0.1", () => console.log("listening"));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
