// Preloaded (node --import) into each README example by test-packed.mjs: reports the port of the
// first server that starts listening to the parent over IPC, so the example runs unchanged on
// port 0 and the runner waits on an event, not a sleep.
import net from 'node:net';

const listen = net.Server.prototype.listen;
let reported = false;
net.Server.prototype.listen = function (...args) {
  this.once('listening', () => {
    if (reported || !process.send) return;
    reported = true;
    process.send({ port: this.address().port });
  });
  return listen.apply(this, args);
};
