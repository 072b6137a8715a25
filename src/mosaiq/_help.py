"""``mosaiq --help``, written by ``mosaiq.cli.write_help()`` (a test checks it)."""

HELP = (
    'Usage: mosaiq [OPTIONS] COMMAND [ARGS]...\n'
    '\n'
    '  MOSAIQ: build, validate and inspect the soundscape benchmark packages.\n'
    '\n'
    'Options:\n'
    '  --version  Print the version.\n'
    '  --help     Show this message and exit.\n'
    '\n'
    'Commands:\n'
    '  build        Build datasets/DATASET from its raw source (atomic: a...\n'
    "  fetch        Download DATASET's official raw files into...\n"
    '  catalogue    Build the catalogue: facts of every source with counts...\n'
    '  validate     Validate every package (Table Schema + semantic checks);...\n'
    '  info         What is built here: status and counts per dataset, and the...\n'
    '  export       Write exports/: Parquet tables with a dataset card,...\n'
    '  release      Cut benchmark release X.Y.Z (manifest, changelog,...\n'
    '  tasks        List the benchmark tasks (benchmark/tasks.yaml).\n'
    '  splits       Write the benchmark splits (benchmark/splits/*.csv and...\n'
    '  baselines    Run every baseline of every task; write results,...\n'
    '  evaluate     Check a submission for TASK, score it, print its metrics...\n'
    '  plots        Draw the benchmark figures (benchmark/plots/*.png).\n'
    '  leaderboard  Print benchmark/leaderboard.md (and put it into the README...\n'
    '  db           Build exports/mosaiq.db (SQLite) and its Datasette...\n'
    '  serve        Browse the catalogue, the packages and the benchmark in a...\n'
    '  features     Visual features of the clips (CLIP embeddings,...\n'
)
