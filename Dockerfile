# The Phoenix Board's image: `phoenix-board` is the entrypoint, so a container runs one command,
# e.g. `workers --team iota --agents 4`, `beat`, `metrics --port 9464`, `migrate`.
# Built by docker-compose.yml (service migrate); by hand:  docker build -t phoenix-board:local .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
# only what the package needs (no .venv, .phoenix, .env or tests in the build)
COPY pyproject.toml README.md ./
COPY phoenix_board ./phoenix_board
COPY board ./board
COPY workers ./workers
COPY scheduler ./scheduler
COPY metrics ./metrics
COPY sql ./sql
COPY api ./api
COPY web ./web
# the benchmarks (`phoenix-board bench`): no product process imports them; the image can run them
COPY harness ./harness
RUN pip install . \
 && rm -rf /src \
 && useradd --create-home --home-dir /home/phoenix --uid 10001 --user-group phoenix

USER phoenix
WORKDIR /home/phoenix
# nothing embedded runs here: PHOENIX_DATABASE_URL and PHOENIX_REDIS_URL point at the servers
ENV PHOENIX_DATA_DIR=/home/phoenix/.phoenix

ENTRYPOINT ["phoenix-board"]
CMD ["--help"]
