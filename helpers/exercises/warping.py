"""Lesson 05's exercises: the total variation in the objective, and warping a map with affine_grid / grid_sample."""

import torch
import torch.nn.functional as F

from ..augmented import total_variation
from .checking import Exercise, Mistake


def _map_cases(generator, device):
    return [(torch.rand(3, 9, 9, generator=generator).to(device),),
            (torch.randn(1, 4, 4, generator=generator).to(device),)]


def _tv(h):
    """Anisotropic TV of each map (B, S, S): a (B,) tensor."""
    return torch.stack([total_variation(one) for one in h])


def _tv_of(differences):
    def wrong(h):
        across, down = h[:, :, 1:] - h[:, :, :-1], h[:, 1:, :] - h[:, :-1, :]
        return differences(across, down)
    return wrong


def _warp_cases(generator, device):
    """Maps (B, C, S, S) and affine matrices (B, 2, 3) of a turn, a zoom and a shift, in normalised coordinates."""
    cases = []
    for batch, channels, side in ((3, 1, 12), (1, 2, 7)):
        maps = torch.rand(batch, channels, side, side, generator=generator)
        angle = (torch.rand(batch, generator=generator) - 0.5) * 1.2
        zoom = 0.8 + 0.4 * torch.rand(batch, generator=generator)
        shift = (torch.rand(batch, 2, generator=generator) - 0.5) * 0.6
        turn = torch.stack([torch.stack([angle.cos(), angle.sin()], -1), torch.stack([-angle.sin(), angle.cos()], -1)],
                           -2)
        theta = torch.cat([turn / zoom[:, None, None], shift[..., None]], dim=-1)
        cases.append((maps.to(device), theta.to(device)))
    return cases


def _sampled(align_corners=False, mode="bilinear", padding_mode="zeros"):
    def answer(maps, theta):
        grid = F.affine_grid(theta, list(maps.shape), align_corners=align_corners)
        return F.grid_sample(maps, grid, mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    return answer


def _inverse(theta):
    """The 2 x 3 matrix of the inverse affine map."""
    turn = torch.linalg.inv(theta[:, :, :2])
    return torch.cat([turn, -(turn @ theta[:, :, 2:])], dim=-1)


EXERCISES = {
    "total_variation": Exercise(
        "my_total_variation(h)", _map_cases, _tv,
        (Mistake(_tv_of(lambda a, d: a.pow(2).sum(dim=(1, 2)) + d.pow(2).sum(dim=(1, 2))),
                 "TV sums the *absolute* differences (that is what keeps edges sharp); squares are a smoothness "
                 "penalty."),
         Mistake(_tv_of(lambda a, d: a.abs().sum(dim=(1, 2))),
                 "Count the differences in both directions: along the rows and down the columns."),
         Mistake(_tv_of(lambda a, d: a.abs().mean(dim=(1, 2)) + d.abs().mean(dim=(1, 2))),
                 "Sum the differences; a mean divides by their number."),
         Mistake(lambda h: (h - h.roll(1, dims=2)).abs().sum(dim=(1, 2)) + (h - h.roll(1, dims=1)).abs().sum(dim=(1, 2)),
                 "Only neighbours inside the map: torch.roll wraps around and adds a difference across the border."),
         Mistake(_tv_of(lambda a, d: (a[:, :-1, :] ** 2 + d[:, :, :-1] ** 2).sqrt().sum(dim=(1, 2))),
                 "This is the isotropic TV; the objective uses the anisotropic one, |dx| + |dy| at every cell.")),
        "random maps, batches of 3 and 1"),
    "warp": Exercise(
        "my_warp(maps, theta)", _warp_cases, _sampled(),
        (Mistake(_sampled(align_corners=True),
                 "Use align_corners=False in both affine_grid and grid_sample: the course treats pixels as squares "
                 "whose centres are at half-pixel positions."),
         Mistake(_sampled(mode="nearest"),
                 "Interpolate bilinearly (mode='bilinear'), the default: nearest-neighbour sampling makes blocks."),
         Mistake(_sampled(padding_mode="border"),
                 "Outside the image the warped map is 0 (padding_mode='zeros'): nothing was seen there."),
         Mistake(lambda maps, theta: _sampled()(maps, _inverse(theta)),
                 "theta maps each *output* position to the input position it samples; you applied its inverse.")),
        "turns, zooms and shifts of one- and two-channel maps", atol=1e-4),
}
