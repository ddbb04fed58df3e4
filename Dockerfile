# Workshop server image: the dashboard on a CUDA GPU, pretrained VGG weights baked in (starts without internet).
#   docker build -t nst-workbench .
#   docker run --gpus all -p 5006:5006 -e NST_ALLOW_WEBSOCKET_ORIGIN=workshop.example.org nst-workbench
# It installs requirements.txt exactly as pinned (the CUDA-enabled torch/torchvision wheels from PyPI that the
# tests run with), so what is shipped is what is tested; tests/test_docker.py checks that.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TORCH_HOME=/opt/torch \
    NST_MAX_UPLOAD_MB=15 \
    NST_MAX_PIXELS=30000000 \
    NST_MAX_SIZE=768 \
    NST_MAX_STEPS=1000 \
    NST_MAX_VARIANTS=8
# The public host name(s) the page is served under (comma-separated), e.g. workshop.example.org; no default: with
# none set only localhost may open the websocket. Basic auth: NST_BASIC_AUTH_FILE=/run/secrets/<name> (a Docker
# secret) rather than a password on the command line, which `ps` would show.

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY nstcore ./nstcore
COPY demo_app ./demo_app
COPY assets ./assets

# Fetch torchvision's pretrained VGG19 and VGG16 into the image's torch hub cache at build time.
RUN python -c "from nstcore.weights import load_features; load_features('vgg19'); load_features('vgg16')" \
    && useradd --create-home --uid 1000 nst \
    && chown -R nst:nst /app /opt/torch
USER nst

EXPOSE 5006
# SIGTERM (docker stop) ends running and queued jobs with a sentence on their pages and exits 0 within ~5 s,
# inside docker stop's default 10 s.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5006/liveness', timeout=4)"

ENTRYPOINT ["python", "-m", "demo_app", "--address", "0.0.0.0", "--port", "5006", "--no-show", "--max-queue", "60"]
