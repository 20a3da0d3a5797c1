"""Linux root filesystems with the interpreters Lambda runs, to run functions in as Lambda lays them out.

Lambda's managed Python runtimes (python3.12-3.14, x86_64 and arm64, on Amazon Linux 2023) are not the
interpreter this machine has. A *platform root* is a directory holding Debian's build of one of those
interpreters for one architecture, laid out as a Lambda sandbox (`/var/runtime/bootstrap`, `/var/task`,
`/opt`), in which the emulator can start a function's runtime (under bubblewrap; arm64 through
qemu-user). The parts, each with one job:

- `platforms`: which interpreters and architectures (`python3.14/arm64`), and which cannot be had;
- `debian_index`, `resolver`: the archive's signed index and the dependency closure (sans-IO);
- `archive`: fetching and verifying the index and the packages (the only network code);
- `deb_files`: unpacking a `.deb` without dpkg; `layout`: Lambda's files in the root;
- `cache`, `builder`: roots cached by what they hold, built into a temporary directory and renamed;
- `layer`: the runtime layer staged by the construct's own code, read-only;
- `bytecode`: the layer's pycs, compiled by the roots' interpreters when the package is built;
- `host`: what this machine must offer (bubblewrap, user namespaces, qemu's binfmt entry);
- `launch`: the command and environment that start a runtime inside a root;
- `prepare`: all of it for `FunctionConfig.platform` in one call.

Standard library only, and nothing here imports aws_cdk or the emulator.
"""
