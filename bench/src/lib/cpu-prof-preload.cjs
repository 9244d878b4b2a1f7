// Loaded with `node --require` (NODE_OPTIONS takes no --cpu-prof): profiles the whole process
// through the inspector and writes <CPU_PROF_DIR>/<name>-<pid>.cpuprofile when it exits (a
// service exits after its SIGTERM drain). Read it with src/cpu-profile-top.ts.
const inspector = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');
const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 1000 });
session.post('Profiler.start');
process.on('exit', () => {
  // Same-thread session: the callback runs before post() returns, so the write happens at exit.
  session.post('Profiler.stop', (err, r) => {
    if (err) return;
    const name = path.basename(process.cwd());
    fs.writeFileSync(path.join(process.env.CPU_PROF_DIR, `${name}-${process.pid}.cpuprofile`), JSON.stringify(r.profile));
  });
});
