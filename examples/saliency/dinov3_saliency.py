"""DINOv3 saliency for dvren's "external" saliency model.

Reads the preview PNG, runs a DINOv3 vision transformer on it and writes,
for every 16x16 patch, the cosine similarity between the image's CLS token
and that patch's token: patches that carry what the global embedding is
about score high. The map has the patch grid's shape (H/16, W/16), float32;
the external plugin resizes it bilinearly to the image and min-max
normalises it (keep its parameter `normalize` true: cosines lie in [-1, 1]).

Usage (the plugin's `command` parameter; {image} and {output} are replaced
by the plugin, already quoted for the shell):

    python3 examples/saliency/dinov3_saliency.py {image} {output}

for example in a scene file:

    "saliency": {"plugin": "external",
                 "command": "python3 examples/saliency/dinov3_saliency.py {image} {output}",
                 "timeout": 300}

Options (append them to the command):
    --model NAME_OR_DIR   Hugging Face model id or a local folder saved with
                          save_pretrained (default
                          facebook/dinov3-vits16-pretrain-lvd1689m); needs
                          transformers >= 4.56 and access to the gated weights
    --hub REPO            use torch.hub instead: REPO is a local clone of
                          github.com/facebookresearch/dinov3 (or the string
                          facebookresearch/dinov3 to fetch the code)
    --arch NAME           torch.hub entry point (default dinov3_vits16)
    --weights PATH        torch.hub checkpoint file or URL (required with --hub)
    --max-side N          shrink the image first so that its longer side is
                          at most N pixels (default 1024; 0: never)
    --device DEV          torch device (default: cuda when available, else cpu)

What you need: Python 3.9+, numpy, Pillow, torch, and either transformers
with the DINOv3 weights from Hugging Face (accept the DINOv3 licence on the
model page, then `huggingface-cli login`), or the dinov3 repository and a
checkpoint for torch.hub. Neither the weights nor these packages are part of
dvren; dvren's tests run the plugin with tests/saliency/center_prior.py
instead.

Method: DINOv3 (Simeoni et al., "DINOv3", arXiv:2508.10104, 2025) is a
ViT with patch size 16, one CLS token and 4 register ("storage") tokens
before the patch tokens. Its rotary position embeddings accept any image
size that is a multiple of 16, so the image is resized to the nearest such
size (not cropped) and normalised with the ImageNet mean and standard
deviation the checkpoints were trained with. The last layer's normalised
CLS token c and patch tokens p_ij give map[i, j] = <c, p_ij> / (|c| |p_ij|).
"""
import argparse
import os
import sys

PATCH = 16
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


def load_image(path, max_side):
    """The image as a (1, 3, H, W) float tensor, H and W multiples of 16."""
    import numpy as np
    import torch
    from PIL import Image

    img = Image.open(path).convert("RGB")
    w, h = img.size
    scale = 1.0
    if max_side and max(w, h) > max_side:
        scale = max_side / float(max(w, h))
    tw = max(PATCH, int(round(w * scale / PATCH)) * PATCH)
    th = max(PATCH, int(round(h * scale / PATCH)) * PATCH)
    if (tw, th) != (w, h):
        img = img.resize((tw, th), Image.BICUBIC)
    x = np.asarray(img, dtype=np.float32) / 255.0
    x = (x - np.array(MEAN, dtype=np.float32)) / np.array(STD, dtype=np.float32)
    return torch.from_numpy(x.transpose(2, 0, 1).copy()).unsqueeze(0)


def tokens_transformers(model_name, x, device):
    """(cls (D,), patches (N, D)) from a Hugging Face DINOv3 model."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_name).to(device).eval()
    with torch.inference_mode():
        out = model(pixel_values=x.to(device))
    hidden = out.last_hidden_state[0]  # (1 + registers + N, D)
    registers = int(getattr(model.config, "num_register_tokens", 4))
    return hidden[0], hidden[1 + registers:]


def tokens_hub(repo, arch, weights, x, device):
    """(cls (D,), patches (N, D)) from the torch.hub DINOv3 code."""
    import torch

    source = "local" if os.path.isdir(repo) else "github"
    model = torch.hub.load(repo, arch, source=source, weights=weights).to(device).eval()
    with torch.inference_mode():
        feats = model.forward_features(x.to(device))
    return feats["x_norm_clstoken"][0], feats["x_norm_patchtokens"][0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("image", help="the preview PNG ({image})")
    ap.add_argument("output", help="the .npy to write ({output})")
    ap.add_argument("--model", default="facebook/dinov3-vits16-pretrain-lvd1689m")
    ap.add_argument("--hub", default=None)
    ap.add_argument("--arch", default="dinov3_vits16")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--max-side", type=int, default=1024)
    ap.add_argument("--device", default=None)
    args = ap.parse_args(argv)

    import numpy as np
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    x = load_image(args.image, args.max_side)
    gh, gw = x.shape[2] // PATCH, x.shape[3] // PATCH
    if args.hub:
        if not args.weights:
            sys.stderr.write("dinov3_saliency.py: --hub needs --weights (a checkpoint file or URL)\n")
            return 2
        cls, patches = tokens_hub(args.hub, args.arch, args.weights, x, device)
    else:
        cls, patches = tokens_transformers(args.model, x, device)
    if patches.shape[0] != gh * gw:
        sys.stderr.write("dinov3_saliency.py: %d patch tokens for a %dx%d grid: not a patch-16 DINOv3 ViT?\n"
                         % (patches.shape[0], gw, gh))
        return 3
    sim = torch.nn.functional.cosine_similarity(patches.float(), cls.float().unsqueeze(0), dim=1)
    saliency = sim.reshape(gh, gw).cpu().numpy().astype(np.float32)
    np.save(args.output, np.ascontiguousarray(saliency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
