# Workshop server image: the dashboard on a CUDA GPU, pretrained VGG weights baked in (starts without internet).
#   docker build -t nst-workbench .
#   docker run --gpus all -p 5006:5006 nst-workbench --allow-websocket-origin workshop.example.org
# The base image brings a CUDA build of torch and torchvision; requirements.txt adds the rest.
ARG BASE=pytorch/pytorch:2.9.1-cuda12.8-cudnn9-runtime
FROM ${BASE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TORCH_HOME=/opt/torch \
    NST_MAX_UPLOAD_MB=15 \
    NST_MAX_PIXELS=30000000 \
    NST_MAX_SIZE=768 \
    NST_MAX_STEPS=1000 \
    NST_MAX_VARIANTS=8

WORKDIR /app
COPY requirements.txt .
# Keep the base image's CUDA torch/torchvision (a matched pair); install everything else as pinned.
RUN grep -vE '^(torch|torchvision)==' requirements.txt > /tmp/requirements-app.txt \
    && pip install --no-cache-dir -r /tmp/requirements-app.txt

COPY nstcore ./nstcore
COPY demo_app ./demo_app
COPY assets ./assets

# Fetch torchvision's pretrained VGG19 and VGG16 into the image's torch hub cache at build time.
RUN python -c "from nstcore.weights import load_features; load_features('vgg19'); load_features('vgg16')" \
    && useradd --create-home --uid 1000 nst \
    && chown -R nst:nst /app /opt/torch
USER nst

EXPOSE 5006
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:5006/liveness', timeout=4)"

ENTRYPOINT ["python", "-m", "demo_app", "--address", "0.0.0.0", "--port", "5006", "--no-show", "--max-queue", "60"]
# Override with your public host name(s) behind a proxy, e.g. --allow-websocket-origin workshop.example.org
CMD ["--allow-websocket-origin", "*"]
