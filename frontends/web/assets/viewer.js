// The document viewer's script: it shows the cited span, in the middle of its panel, when it
// opens (the panel's content is created then) and when another document replaces the one shown.
const show = () => setTimeout(() => {
  const cited = element.querySelector('mark.citeqa-cited');
  if (cited) cited.scrollIntoView({block: 'center'});
}, 50);
show();
watch('value', show);
