"""Phrase pools of the template writer: the words of its long instructions, kept as data.

Each long instruction is: [a lead-in, in a session] + ASK + GROUND + KEEP [+ a back-reference].
The ASK names the operation and its parameter in words `intent.parse_instruction` reads, and comes
first, because the reader takes the earliest cue; GROUND ties the edit to what is in the photo; KEEP
says what must not change. `{slots}` are filled from the photo analysis (see writer._slots).

Words to keep out of GROUND / KEEP / back-references, since the intent reader looks for them anywhere:
"zoom in", "close-up", "tighter framing", "extend ... image", "widen", "show more of", "sticker",
"line art", "ink line", and a quoted string next to "add"/"put" + "text"/"words". The writer checks
every instruction against the reader anyway and redraws when one slips through.
"""

from __future__ import annotations

ASK: dict[str, dict[str, list[str]]] = {
    "color_tone": {
        "warm": [
            "Shift the overall colour tone of the photo toward warmer hues, laying a gentle amber and honey "
            "cast over the whole frame.",
            "Warm up the colour balance of the entire image, nudging the whites toward cream and the "
            "shadows toward a soft amber.",
            "Apply a warm colour grade to the whole photo so it reads cozy and sunlit instead of neutral.",
        ],
        "cool": [
            "Shift the overall colour tone of the photo toward cooler hues, with a subtle blue tint "
            "across the whole frame.",
            "Cool down the colour balance of the entire image, pushing the whites toward a crisp "
            "clean white and the shadows toward teal.",
            "Apply a cool colour grade to the whole photo so it feels calm and crisp, with a gentle "
            "blue cast in the highlights.",
        ],
    },
    "film_grain_vintage": {
        "grain": [
            "Add a fine, even layer of analogue film grain over the whole photo, like a frame shot on "
            "ISO 400 film stock.",
            "Overlay subtle monochrome film grain across the entire image, fine enough to read as texture "
            "rather than noise.",
            "Give the whole frame a grainy analogue texture, as if it had been scanned from a 35 mm negative.",
        ],
        "vintage": [
            "Give the photo a vintage film look, with slightly faded colours, lifted blacks, a yellowed "
            "cast and a soft vignette toward the corners.",
            "Apply a retro old-film treatment to the whole image: muted colours, soft contrast and gently "
            "darkened corners.",
            "Turn the picture into a faded vintage print with washed-out colours and a soft darkening "
            "toward the edges.",
        ],
    },
    "global_lighting": {
        "golden_hour": [
            "Relight the scene as if it were golden hour, with low, warm sunlight coming from one side "
            "and long soft shadows.",
            "Change the lighting to a golden-hour glow, the low sun bathing every surface in warm light "
            "with gentle long shadows.",
        ],
        "blue_hour": [
            "Change the lighting to blue hour, the deep cool light just after the sun has set, with soft "
            "shadowless illumination.",
            "Relight the scene as if at dusk, with dim, even bluish light and the last glow fading from the horizon.",
        ],
        "fluorescent": [
            "Relight the scene with flat, slightly greenish fluorescent overhead lighting, as in an office "
            "or a subway platform.",
            "Change the lighting to harsh fluorescent tube light from above, flat and a little green, "
            "with short hard shadows.",
        ],
        "brighter": [
            "Brighten the overall lighting of the scene by about a stop, opening up the shadows while "
            "keeping the highlights from clipping.",
            "Make the whole scene brighter, as if more daylight were pouring in, lifting the shadows and "
            "the mid-tones evenly.",
        ],
        "darker": [
            "Darken the overall lighting of the scene by about a stop for a moodier, low-key look, "
            "letting the shadows deepen.",
            "Make the whole scene darker and moodier, as if the light were fading, while the brightest "
            "areas still hold detail.",
        ],
    },
    "weather": {
        "rain": [
            "Add a steady rain shower to the scene, with thin diagonal streaks of falling rain and wet, "
            "slightly reflective surfaces.",
            "Make it rainy: fill the air with fine falling raindrops and give the surfaces a damp sheen "
            "under a muted, overcast light.",
        ],
        "snow": [
            "Add gently falling snow to the scene, with soft flakes of varied size drifting through the "
            "air in front of and behind {subject}.",
            "Make it snowing: scatter drifting snowflakes through the whole frame, larger and softer near "
            "the camera and finer in the distance.",
        ],
        "fog": [
            "Add a thick morning fog that drifts through the scene, softening distant details and lowering "
            "the contrast toward the background.",
            "Fill the scene with a soft, milky fog that thickens with distance, so far objects fade while "
            "{subject} stays readable.",
        ],
        "sunny": [
            "Make the weather sunny, with clear blue skies, crisp direct sunlight and well-defined "
            "shadows across the scene.",
            "Turn the weather into a sunny day, opening {sky} up to a clean blue and adding crisp direct sunlight.",
        ],
    },
    "seasonal": {
        "winter": [
            "Transform the scene into winter, covering the horizontal surfaces with fresh snow and adding "
            "frost to edges and foliage.",
            "Turn the season to deep winter, with snow resting on every ledge and a crisp, pale winter light.",
        ],
        "autumn": [
            "Transform the scene into autumn, turning any greenery to deep orange, red and gold and "
            "scattering a few fallen leaves.",
            "Turn the season to autumn, with warm russet foliage colours and a soft, low seasonal light.",
        ],
        "spring": [
            "Transform the scene into spring, with fresh light-green growth and soft pink and white "
            "blossoms wherever plants appear.",
            "Turn the season to early spring, adding tender new leaves, a few blossoms and a fresh, clear light.",
        ],
        "summer": [
            "Transform the scene into high summer, with lush green vegetation, saturated colours and "
            "strong midday light.",
            "Turn the season to summer, giving the scene vivid, saturated colours and the strong light of "
            "a long summer day.",
        ],
    },
    "style_transfer": {
        "van_gogh": [
            "Repaint the whole photo in the style of Van Gogh, with thick swirling strokes, vivid "
            "complementary colours and a sense of motion in every surface.",
            "Restyle the image as a Van Gogh canvas in the spirit of Starry Night, built from bold curving "
            "dabs of saturated paint.",
        ],
        "oil_painting": [
            "Turn the photo into a classical oil painting on canvas, with visible impasto brushwork, rich "
            "layered colour and soft blended edges.",
            "Render the whole image as a traditional oil-painted canvas with visible brush strokes and a "
            "deep, glowing palette.",
        ],
        "watercolor": [
            "Render the photo as a loose watercolor painting, with transparent washes, soft bleeding edges "
            "and the paper showing through in the highlights.",
            "Restyle the whole image as a delicate watercolour, with soft pooled pigment and gentle colour "
            "bleeds between shapes.",
        ],
        "impressionist": [
            "Repaint the photo as an impressionist canvas in the manner of Monet, built from short broken "
            "dabs of colour and shimmering light.",
            "Restyle the whole image in an impressionist manner, dissolving edges into small visible "
            "strokes of pure colour.",
        ],
    },
    "photo_to_cartoon": {
        "cartoon": [
            "Convert the photo into a clean cartoon illustration with flat colour fills, simplified shapes "
            "and bold dark outlines.",
            "Turn the whole image into a cartoon, reducing it to smooth flat colour areas with crisp dark "
            "contours around every shape.",
        ],
        "pencil_sketch": [
            "Turn the photo into a detailed graphite pencil sketch on white paper, with hatched shading and "
            "clean contour lines.",
            "Redraw the whole image as a pencil sketch, with soft graphite shading and fine hatching in the "
            "darker areas.",
        ],
        "comic": [
            "Restyle the photo as a comic-book panel with bold dark outlines, halftone dot shading and "
            "punchy saturated colours.",
            "Turn the whole image into a comic illustration, with heavy black contours, flat colours and "
            "halftone shading.",
        ],
    },
    "modern_historical": {
        "victorian": [
            "Make the photo look like a Victorian-era plate from the 1800s, with a brown monochrome tone, "
            "soft focus and uneven darkened edges.",
            "Restyle the image as a 19th-century photograph, with antique brown toning, gentle blur and "
            "the worn look of an old plate.",
        ],
        "1920s": [
            "Restyle the photo as if it had been taken in the 1920s, in grainy black and white with soft "
            "contrast and slightly blurred edges.",
            "Make the image look like a 1920s photograph, monochrome and soft, with the slight flicker of early film.",
        ],
        "1950s": [
            "Restyle the photo as a 1950s snapshot, with gentle pastel colours, soft contrast and the look "
            "of an early colour print.",
            "Make the image look like it was taken in the 1950s, with muted mid-century colours and a "
            "soft, creamy print tone.",
        ],
        "1970s": [
            "Make the photo look like it was shot in the 1970s, with warm yellowed colours, soft contrast "
            "and the look of an instant print.",
            "Restyle the image as a 1970s snapshot with faded, warm colours and slightly washed-out shadows.",
        ],
    },
    "zoom_in": {
        "subject": [
            "Zoom in on {target}, cropping in so it fills most of the frame while the surroundings stay "
            "just visible at the edges.",
            "Zoom in on {target} for a closer view, trimming away about half of the surrounding scene.",
        ],
        "center": [
            "Zoom in on the centre of the frame, cropping in by about half so the middle of the scene "
            "fills the picture.",
            "Zoom in on the middle of the photo, keeping the crop centred and tight.",
        ],
        "left": ["Zoom in on the left side of the frame, cropping in so that part fills the picture."],
        "right": ["Zoom in on the right side of the frame, cropping in so that part fills the picture."],
        "top": ["Zoom in on the upper part of the frame, cropping in so that area fills the picture."],
        "bottom": ["Zoom in on the lower part of the frame, cropping in so that area fills the picture."],
    },
    "outpainting": {
        "all": [
            "Outpaint the photo on all sides, extending the canvas by about a quarter in every direction.",
            "Extend the canvas all around the photo, adding new scenery on every side by about a fifth.",
        ],
        "left": ["Extend the canvas to the left by about a third of the width, continuing the scene there."],
        "right": ["Extend the canvas to the right by about a third of the width, continuing the scene there."],
        "top": ["Extend the canvas upward by about a third of the height, adding more of {sky} above."],
        "bottom": ["Extend the canvas downward by about a third of the height, continuing the ground below."],
        "horizontal": [
            "Widen the image on both sides, extending the canvas left and right by about a fifth each.",
            "Outpaint the photo horizontally, extending the scene on both sides into a wider frame.",
        ],
        "vertical": [
            "Extend the canvas at the top and bottom, making the picture taller by about a third.",
            "Outpaint the photo vertically, continuing the scene above and below into a taller frame.",
        ],
    },
    "add_text": {
        "*": [
            'Add the words "{text}" in bold {color} sans-serif lettering across the {pos} of the photo.',
            'Place a short caption reading "{text}" in clean {color} capital letters at the {pos} of the image.',
            'Overlay the text "{text}" in {color}, set in a simple bold typeface at the {pos} of the frame.',
        ],
    },
    "person_lineart": {
        "*": [
            "Turn the person into a clean black line-art drawing on a plain white background, tracing the "
            "face, hair and clothing with confident contour strokes.",
            "Redraw the person as minimalist line art in black ink, with smooth even outlines and no shading or fill.",
        ],
    },
    "person_sticker": {
        "*": [
            "Sticker-ify the person: cut them out along their silhouette, add a bold dark outline and a "
            "thick white border, as on a die-cut sticker.",
            "Turn the person into a die-cut sticker with a clean white border around the silhouette and a "
            "subtle drop shadow.",
        ],
    },
}

GROUND: dict[str, list[str]] = {
    "color_tone": [
        "Right now the picture has a {tone_desc} and is dominated by {colors}; the shift should show "
        "clearly in the {main_color} areas while {believable} stay believable.",
        "The photo currently shows a {tone_desc}, with {colors} as the main colours, so make the change "
        "obvious but natural.",
    ],
    "film_grain_vintage": [
        "The {colors} tones should remain recognisable under the effect, and {subject} {side} must stay "
        "clearly readable.",
        "Apply it evenly, including over the smooth {calm} band, where the texture will show most.",
    ],
    "global_lighting": [
        "The photo is currently {light_desc}, with the {bright_half} half lit most; rebalance the light "
        "across the whole frame so it feels like one consistent source.",
        "At the moment the scene is {light_desc}; let the new light fall naturally on {subject} {side} and "
        "on the background.",
    ],
    "weather": [
        "Let the effect fill the whole scene, with {sky} changing to match and {subject} {side} catching "
        "the new light.",
        "The scene is currently {light_desc}; make the weather read clearly over {sky} and around {subject} {side}.",
    ],
    "seasonal": [
        "The scene is currently dominated by {colors}; change the seasonal cues in the setting while "
        "{subject} {side} keeps {poss} own colours.",
        "Apply the season to the setting around {subject} {side}, and adjust {sky} to match.",
    ],
    "style_transfer": [
        "Keep the {colors} palette recognisable in the new medium and keep {subject} {side} clearly readable.",
        "The style should cover the whole frame, with {subject} {side} still the focal point.",
    ],
    "photo_to_cartoon": [
        "Simplify the background more than {subject} {side}, and let the {colors} palette guide the new colours.",
        "Keep {subject} {side} clearly readable as the main shape, with the {main_color} areas kept in "
        "their own colour family.",
    ],
    "modern_historical": [
        "The look should reach every part of the frame, from {subject} {side} to the {bright_half} edge.",
        "Treat the {colors} tones the way the process of that era would have rendered them.",
    ],
    "zoom_in": [
        "{Subject} {side} should end up filling about two thirds of the new frame.",
        "Frame the crop around {subject} {side}, whose {subject_color} tones should dominate the result.",
    ],
    "outpainting": [
        "Continue the {bg_color} surroundings, the lighting and the perspective naturally into the new area.",
        "The added area should match the {colors} palette and the {light_desc} look of the original.",
    ],
    "add_text": [
        "Keep it over the calm {calm} band, which is {band_desc}, so the letters stay legible.",
        "Size it to about a tenth of the image height and keep it clear of {subject}.",
    ],
    "person_lineart": [
        "Capture the pose and the outline of the {subject_color} clothing faithfully.",
        "Keep the likeness of the face recognisable through the outlines alone.",
    ],
    "person_sticker": [
        "Keep the likeness, pose and {subject_color} clothing colours exactly as they are.",
        "The outline should follow the silhouette closely, hair and clothing edges included.",
    ],
}

KEEP: dict[str, list[str]] = {
    "look": [
        "Keep the composition, framing and every object exactly where they are{person_keep}.",
        "Do not move, add or remove anything; keep the layout and geometry the same{person_keep}.",
    ],
    "crop": [
        "Keep the original aspect ratio and do not invent new detail; the result must stay sharp.",
        "Preserve the aspect ratio, and keep the cropped area sharp and free of artifacts.",
    ],
    "extend": [
        "Leave the original pixels untouched and blend the new areas in without visible seams.",
        "The original photo must stay unchanged inside the new frame, with no visible seam at its edges.",
    ],
    "text": [
        "Leave the rest of the photo untouched, and keep the lettering crisp, level and spelled exactly as given.",
        "Do not change anything else; the lettering must be sharp, straight and spelled exactly as given.",
    ],
    "person": [
        "Leave the rest of the picture as it is, apart from what the effect itself requires.",
        "Keep the identity of the person recognisable and the framing unchanged.",
    ],
}

KEEP_FAMILY: dict[str, str] = {
    "zoom_in": "crop",
    "outpainting": "extend",
    "add_text": "text",
    "person_lineart": "person",
    "person_sticker": "person",
}

LEAD_IN: list[str] = [
    "Building on the previous edit, ",
    "For this next step, ",
    "Continuing from the last change, ",
    "Now, after the earlier edits, ",
]

BACK_REFERENCE: list[str] = [
    "Keep {ref} from the earlier steps unchanged.",
    "{Ref} from before should stay intact.",
    "Do not undo {ref}; this change builds on {it}.",
]

# What an earlier turn left in the picture, by its reading: phrases free of the reader's cue words.
EARLIER: dict[str, dict[str, str]] = {
    "color_tone": {"warm": "the warmer tones", "cool": "the cooler palette"},
    "film_grain_vintage": {"grain": "the film texture", "vintage": "the aged look"},
    "global_lighting": {"*": "the new lighting"},
    "weather": {"rain": "the rain", "snow": "the snowflakes", "fog": "the haze", "sunny": "the sunshine"},
    "seasonal": {"*": "the seasonal change"},
    "style_transfer": {"*": "the painted style"},
    "photo_to_cartoon": {"*": "the illustrated style"},
    "modern_historical": {"*": "the period look"},
    "zoom_in": {"*": "the closer framing"},
    "outpainting": {"*": "the enlarged canvas"},
    "add_text": {"*": "the lettering"},
    "person_lineart": {"*": "the outlined rendering of the person"},
    "person_sticker": {"*": "the cut-out treatment of the person"},
}
EARLIER_UNKNOWN = "the result of the previous edit"

# Short texts for add_text, by what the photo shows. No quotes or apostrophes (the reader's quote marks)
# and no colour or position words (the reader would take them for the colour or the place).
TEXTS: dict[str, list[str]] = {
    "sky": ["CLEAR SKIES", "LOOK UP", "SKY HIGH", "UP AND AWAY", "LIFT OFF"],
    "person": ["HELLO", "MEET THE TEAM", "PORTRAIT DAY", "CREW 2025", "READY"],
    "warm": ["GOOD MORNING", "WARM WELCOME", "FRESH TODAY", "SLOW DAYS", "COMFORT"],
    "cool": ["STAY COOL", "CALM WATERS", "QUIET HOURS", "NIGHT SHIFT"],
    "any": ["OPEN", "WELCOME", "MEMORIES", "HELLO WORLD", "EST. 2025", "SALE", "THE END", "HOME"],
}
