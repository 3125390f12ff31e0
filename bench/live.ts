/**
 * Live fan-out across processes: a publish in this process seen by a live subscriber
 * (`rt.live(topics)`) in a child process on the same database, timed as in bench/crossProcess.ts.
 * The child starts iterating before it says `ready` (the stream's `onStart`), so every publish
 * counted falls after the subscription stood at the topic's end.
 */
import { createRuntime } from "../src/index.ts"
import { arrived, crossProcessLatency, ready, stopWithParent } from "./crossProcess.ts"

/** Run as the child: `node bench/live.ts --child <db>`. */
const child = async (db: string) => {
  const rt = await createRuntime({ db, maintenance: false })
  stopWithParent(() => rt.close())
  for await (const e of rt.live("live", { onStart: ready })) arrived((e.payload as { i: number }).i)
}

/** Latencies (ms) of `samples` publishes seen by a live subscriber in a child process. */
export const liveLatency = async (db: string, samples: number): Promise<Array<number>> => {
  const rt = await createRuntime({ db, maintenance: false })
  try {
    return await crossProcessLatency([import.meta.filename, "--child", db], (i) => rt.publish("live", { i }), samples)
  } finally {
    await rt.close()
  }
}

if (process.argv[2] === "--child") await child(process.argv[3]!)
