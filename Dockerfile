# densviz as a web app: `docker build -t densviz .` then `docker run -p 8501:8501 densviz`.
FROM python:3.11-slim-bookworm

# graphviz: `dot` draws the graphs; chromium: kaleido's static chart images.
RUN apt-get update \
    && apt-get install -y --no-install-recommends graphviz chromium \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # one torch thread per request: a server's cores are shared by its users
    OMP_NUM_THREADS=1 \
    MPLCONFIGDIR=/tmp

WORKDIR /app
COPY requirements.txt ./
# torch is pinned in requirements.txt; the CPU wheel index keeps the image small
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt
COPY pyproject.toml README.md ./
COPY densviz ./densviz
RUN pip install --no-deps .

# `densviz app` carries the settings of .streamlit/config.toml; in a container it serves every
# interface (the port is published with `docker run -p`).
ENV DENSVIZ_ADDRESS=0.0.0.0
USER 10001:10001
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).read() == b'ok' else 1)"]
CMD ["densviz", "app", "--port", "8501"]
